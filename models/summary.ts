/** `polyglot info` summary rows: config.json fields under display labels, in order (absent or non-scalar fields skipped). */
export type SummaryRows = Record<string, string | number | boolean>;

export function summaryRows(json: Record<string, unknown>, fields: readonly (readonly [label: string, key: string])[], into: SummaryRows = {}): SummaryRows {
  for (const [label, key] of fields) {
    const v = json[key];
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') into[label] = v;
  }
  return into;
}
