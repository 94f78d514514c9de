// The one translation unit that compiles Asio's implementation.
#include "platform/asio/asio.hpp"
#include <boost/asio/impl/src.hpp>
