#pragma once
// A Lua script for EVALSHA: its source and the SHA-1 Redis files it under. Made once (a
// static), so the hash is not recomputed per call; RedisClient::run_script sends EVALSHA and
// loads the source only when the server has lost it (NOSCRIPT: a restart, a SCRIPT FLUSH, a
// failover to a replica that never saw it).

#include <string>

namespace bulwark::redis {

struct Script {
  std::string source;
  std::string sha1;  // lowercase hex, as SCRIPT LOAD answers it
};

Script make_script(std::string source);

}  // namespace bulwark::redis
