export async function createAdService(_o: unknown): Promise<never> {
  throw new Error('not yet');
}
