/**
 * Kernels registered for the wasm backend from user code: the ones it lacks or gets
 * wrong, and a faster BatchMatMul dispatch. (Filled in by the backend work.)
 */
export function registerWasmKernels(): void {
  // placeholder: see issue 2 (UnsortedSegmentSum, OneHot float, BatchMatMul fast path)
}
