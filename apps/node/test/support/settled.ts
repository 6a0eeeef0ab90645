/** Whether `p` has settled after the microtasks queued so far have run (no timer involved). */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}
