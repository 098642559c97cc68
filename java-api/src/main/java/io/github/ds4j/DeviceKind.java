package io.github.ds4j;

/** The kinds of devices ds4j can run on, best first for automatic selection. */
public enum DeviceKind {
    CUDA("cuda"),
    ASCEND("ascend"),
    CPU("cpu");

    private final String id;

    DeviceKind(String id) {
        this.id = id;
    }

    /** The lower-case name used on the command line and in backend names. */
    public String id() {
        return id;
    }
}
