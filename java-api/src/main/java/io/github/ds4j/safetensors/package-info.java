/** Reading (memory-mapped, zero copy) and writing safetensors files and sharded checkpoints. */
package io.github.ds4j.safetensors;
