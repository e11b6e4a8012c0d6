#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace bulwark::server {

class Worker;

// Serves one client connection until it closes: reads requests, routes them, relays them
// to the upstream and the responses back, in order (pipelined requests included).
boost::asio::awaitable<void> serve_connection(Worker& worker, boost::asio::ip::tcp::socket socket);

}  // namespace bulwark::server
