// The one translation unit that compiles Boost.Asio, Asio's SSL support and Beast. kumo_server
// defines BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION, so every other
// file sees declarations only; this keeps rebuilds of the transport fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
