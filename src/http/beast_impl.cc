// The one translation unit that compiles Boost.Asio, Asio's SSL support and Beast for the
// whole binary (server transport and REST client). kumo_client defines
// BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION for every module above it.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
