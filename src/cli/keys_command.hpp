#pragma once
// `bulwark keys generate`: a fresh signing key pair (PEM private and public key plus a JWKS
// holding the public key) or an HMAC secret, written into a directory without ever replacing
// an existing file.

#include <CLI/CLI.hpp>

#include <string>

namespace bulwark::cli {

struct KeysCommand {
  CLI::App* keys = nullptr;
  CLI::App* generate = nullptr;
  std::string alg;
  std::string out_dir;
  std::string kid;
};

// Registers `keys` and `keys generate` on `app`; `command` must outlive the parse.
void add_keys_command(CLI::App& app, KeysCommand& command);

// Runs the subcommand that was given. Exit code: 0 done, 1 refused or failed.
int run_keys_command(const KeysCommand& command);

}  // namespace bulwark::cli
