/** One server-sent event: its name (`message` when it has none) and its data lines joined by newlines. */
export interface ServerSentEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Reads server-sent events (the WHATWG "event stream" format) from a body as its chunks arrive: an event ends
 * at a blank line; `event:` names it, `data:` lines make its data; comments and other fields are skipped.
 * An event cut off by the end of the body is dropped, as the format says.
 */
export class EventStreamReader {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private readonly queue: ServerSentEvent[] = [];
  private ended = false;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** The next event, or undefined at the end of the body. Throws what the body's read throws. */
  async next(): Promise<ServerSentEvent | undefined> {
    while (this.queue.length === 0 && !this.ended) {
      const { done, value } = await this.reader.read();
      if (done) {
        this.ended = true;
        this.buffer += this.decoder.decode();
      } else {
        this.buffer += this.decoder.decode(value, { stream: true });
      }
      this.parse();
    }
    return this.queue.shift();
  }

  /** Stops reading: the body's stream is cancelled and the connection freed. */
  async cancel(): Promise<void> {
    this.ended = true;
    await this.reader.cancel().catch(() => undefined);
  }

  private parse(): void {
    const blocks = this.buffer.replace(/\r\n?/g, '\n').split('\n\n');
    this.buffer = blocks.pop() ?? '';
    for (const block of blocks) {
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length) this.queue.push({ event, data: data.join('\n') });
    }
  }
}
