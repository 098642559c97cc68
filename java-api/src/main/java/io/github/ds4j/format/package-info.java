/**
 * The number formats of DeepSeek-V4, with exact conversions: FP8 E4M3 and E5M2, FP4 E2M1, UE8M0
 * scales, bfloat16 and half precision. Every encoder rounds to nearest, ties to even.
 */
package io.github.ds4j.format;
