import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { ApiError } from './api.js';

/** The last refusal of a view's actions, tied to the control that caused it. */
export interface FailedAction {
  /** Which control: a form or button's key (e.g. `add-member`, `rotate:organizer`). */
  readonly at: string;
  /**
   * What was tried, in the chosen language as an infinitive phrase ("rotate Organizer", "rotar
   * Organizer"), for the notice's title ("Could not {action}", errors.couldNot).
   */
  readonly action: string;
  readonly error: ApiError;
}

export interface Actions {
  readonly busy: Ref<boolean>;
  readonly failed: ShallowRef<FailedAction | null>;
  /**
   * Run `call` for the control `at`: while it runs `busy` is set; a refusal is kept as the
   * failure at `at` (replacing any earlier one) and not rethrown; `done` runs on success only.
   */
  run<T>(at: string, action: string, call: () => Promise<T>, done?: (result: T) => void): Promise<T | undefined>;
  /** A refusal found before calling the node (a local check), shown like the node's. */
  fail(at: string, action: string, error: ApiError): void;
  /** The error to show beside the control `at`, if the last failure was there. */
  errorAt(at: string): ApiError | null;
  /** The action words of the failure at `at` ('' if none). */
  actionAt(at: string): string;
  /**
   * ARIA for one input of the control `at`: invalid and described by the notice when the
   * node named that input (`field`) in its refusal.
   */
  fieldAttrs(at: string, field: string): { 'aria-invalid'?: 'true'; 'aria-describedby'?: string };
  dismiss(): void;
}

/** The id of the notice shown beside the control `at` (what an invalid input is described by). */
export function errorId(at: string): string {
  return `error-${at.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

export function createActions(onDone?: (action: string) => void): Actions {
  const busy = ref(false);
  const failed = shallowRef<FailedAction | null>(null);
  const errorAt = (at: string): ApiError | null => (failed.value?.at === at ? failed.value.error : null);
  return {
    busy,
    failed,
    async run(at, action, call, done) {
      busy.value = true;
      failed.value = null;
      try {
        const result = await call();
        done?.(result);
        onDone?.(action);
        return result;
      } catch (err) {
        failed.value = { at, action, error: ApiError.from(err) };
        return undefined;
      } finally {
        busy.value = false;
      }
    },
    fail(at, action, error) {
      failed.value = { at, action, error };
    },
    errorAt,
    actionAt: (at) => (failed.value?.at === at ? failed.value.action : ''),
    fieldAttrs(at, field) {
      const e = errorAt(at);
      return e?.concerns(field) ? { 'aria-invalid': 'true', 'aria-describedby': errorId(at) } : {};
    },
    dismiss() {
      failed.value = null;
    },
  };
}
