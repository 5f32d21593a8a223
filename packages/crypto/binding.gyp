{
  "targets": [
    {
      "target_name": "smgw_ecdh",
      "sources": ["native/ecdh.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror"]
    }
  ]
}
