// The people CSVs the suites import into `profiles`, and their mapping:
// the columns `email_address` and `FirstName` of the API reference's
// mapping example. Shared by the JS suite (`suite.mjs`, in Node, Deno and
// workerd) and the broker suite (`tests/broker/cases.mjs` in Node, and
// `tests/broker/page.mjs` in the browser), so web-standard APIs only.

/** The mapping of the CSVs made by `peopleCsv` onto `profiles`. */
export const PEOPLE_MAPPING = {
  sourceFields: { email_address: 'string', FirstName: 'string' },
  fieldMap: { email_address: 'email', FirstName: 'first_name' },
};

/**
 * A CSV of `valid` people (fresh addresses, so every run inserts) followed
 * by `invalid` rows whose address is not one. Returns the text and the
 * 1-based data row numbers of the invalid rows.
 */
export function peopleCsv(valid, invalid = 0) {
  const run = crypto.randomUUID().slice(0, 8);
  const lines = ['email_address,FirstName'];
  const invalidRows = [];
  for (let i = 0; i < valid; i++) lines.push(`person${i}.${run}@example.com,Person ${i}`);
  for (let i = 0; i < invalid; i++) {
    lines.push(`not-an-email-${i},Broken ${i}`);
    invalidRows.push(valid + i + 1);
  }
  return { text: `${lines.join('\n')}\n`, invalidRows };
}
