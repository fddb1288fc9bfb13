// Placeholder until the lab lands: replaced by the real `flight lab` implementation.
export async function labCommand(_args: string[]): Promise<number> {
  process.stderr.write('flight lab: not built yet\n');
  return 1;
}
