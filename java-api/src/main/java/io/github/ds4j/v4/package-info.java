/**
 * DeepSeek-V4 layers (attention with CSA/HCA and the indexer, MoE, the mHC block), their
 * configuration and KV cache, written against the backend SPI so that every backend runs them.
 */
package io.github.ds4j.v4;
