{
  "targets": [
    {
      "target_name": "polyglot_native",
      "sources": ["src/addon.cc", "src/thread_pool.cc", "src/gemm_avx512.cc", "src/gemm_avx2.cc", "src/q8_vnni.cc", "src/probe.cc",
                  "src/w16_avx512.cc", "src/w16_avx2.cc", "src/w16_bf16dot.cc", "src/w16_napi.cc",
                  "src/adamw.cc", "src/gather_rows.cc", "src/attention_avx2.cc", "src/attention_napi.cc", "src/norm_avx2.cc", "src/norm_napi.cc", "src/decode_block.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-pthread", "-fno-math-errno", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
      "cflags_cc!": ["-fno-exceptions"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
