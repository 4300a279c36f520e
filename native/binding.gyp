{
  "targets": [
    {
      "target_name": "xenwire",
      "sources": [
        "src/addon.c",
        "src/util.c",
        "src/abi-info.c",
        "src/mapping.c",
        "src/file-copy.c",
        "src/evtchn-device.c",
        "src/grant-devices.c",
        "src/fd-watch.c",
        "src/unix-dgram.c",
        "src/unix-listen.c",
        "src/futex.c",
        "src/vchan-pump.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
