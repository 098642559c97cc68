package io.github.ds4j.cuda.internal;

/**
 * What ds4j reads about a CUDA device.
 *
 * @param ordinal the device ordinal (cuda:N)
 * @param handle the CUdevice
 * @param name the marketing name
 * @param totalMemory bytes of device memory
 * @param major compute capability, major
 * @param minor compute capability, minor
 * @param multiprocessors streaming multiprocessors
 * @param maxSharedPerBlockOptin largest opt-in dynamic shared memory per block, bytes
 * @param l2Bytes L2 cache bytes
 * @param memoryClockKhz peak memory clock (0 where the driver no longer reports it)
 * @param busWidthBits memory bus width
 */
public record DeviceProperties(int ordinal, int handle, String name, long totalMemory, int major, int minor,
                               int multiprocessors, int maxSharedPerBlockOptin, int l2Bytes,
                               int memoryClockKhz, int busWidthBits) {

    /** Reads the properties of device {@code ordinal} (cuInit must have succeeded). */
    public static DeviceProperties read(int ordinal) {
        int dev = CudaDriver.device(ordinal);
        return new DeviceProperties(ordinal, dev, CudaDriver.deviceName(dev), CudaDriver.deviceTotalMemory(dev),
                CudaDriver.deviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                CudaDriver.deviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                CudaDriver.deviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
                CudaDriver.deviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
                CudaDriver.deviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE),
                optionalAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE),
                optionalAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH));
    }

    private static int optionalAttribute(int dev, int attribute) {
        try {
            return CudaDriver.deviceAttribute(dev, attribute);
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /** major*10+minor, 90 for an H100. */
    public int computeCapability() {
        return major * 10 + minor;
    }

    /** "sm_90". */
    public String smName() {
        return "sm_" + major + minor;
    }

    /** Peak memory bandwidth from clock and bus width (bytes/s), 0 when unknown. */
    public double peakBandwidth() {
        return 2.0 * memoryClockKhz * 1e3 * busWidthBits / 8.0;
    }
}
