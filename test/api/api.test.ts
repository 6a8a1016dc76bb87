import { requireCases } from '../support/cases';
requireCases(__dirname);
