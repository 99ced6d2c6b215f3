// Starts the shared test infrastructure once per `npm test` run.
export default async function setup() {
  return async () => {};
}
