// Small utility kernels: the empty kernel the launch-overhead benchmark launches.
// Launch (UtilKernels.java): any grid; it does nothing.
extern "C" __global__ void ds4j_util_noop() {
}
