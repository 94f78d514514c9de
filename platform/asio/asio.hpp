#pragma once
// Include Asio through this header only. GCC 12 with Asio 1.18 (Boost 1.74)
// needs <utility> before the Asio headers (std::exchange is used unqualified).
#include <utility>

#include <boost/asio.hpp>
