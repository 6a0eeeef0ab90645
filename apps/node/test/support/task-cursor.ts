import type { TaskCursor } from '../../src/domain/task-order.js';

/** A `next` cursor as the route hands it out, back to the position it names (what the route's schema parses). */
export function cursorOf(text: string): TaskCursor {
  const dot = text.indexOf('.');
  return { createdAt: Number(text.slice(0, dot)), id: text.slice(dot + 1) };
}
