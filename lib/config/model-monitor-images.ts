import table from './model-monitor-images.json';

/** Regions where the table knows Model Monitor's analyzer image. */
export const MODEL_MONITOR_REGIONS: readonly string[] = Object.keys(table.registries);

/** Model Monitor's pre-built analyzer image in `region` (model-monitor-images.json), or undefined where none is known. */
export function modelMonitorAnalyzerImage(region: string, urlSuffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'): string | undefined {
  const registry = (table.registries as Record<string, string>)[region];
  return registry ? `${registry}.dkr.ecr.${region}.${urlSuffix}/${table.repository}:${table.tag}` : undefined;
}
