/** Shared test plumbing: fixture paths and backend set-up. */
import { fixturePath } from '../core/paths.js';
import { selectBackend, type BackendName } from '../backend/select.js';

export { fixturePath };

/** Switches the backend for a test file; tests name wasm or cpu explicitly. */
export async function useBackend(name: BackendName): Promise<string> {
  return selectBackend(name);
}
