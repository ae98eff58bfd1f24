#pragma once

namespace xesp::cli {

// `xesp interfaces`: every NIC with its RX queues, driver, state and the XDP modes that work.
int run_interfaces(bool json);

}  // namespace xesp::cli
