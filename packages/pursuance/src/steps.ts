/**
 * Work written once as a generator that pauses (yields) between slices, run either to its end
 * at once or with `await pause(value)` at each yield: the fold, the member view and the read
 * model's comparison each have both callers.
 */
export function runAtOnce<T>(steps: Generator<unknown, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

export async function runInSlices<Y, T>(steps: Generator<Y, T>, pause: (value: Y) => Promise<void>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await pause(step.value);
  }
}
