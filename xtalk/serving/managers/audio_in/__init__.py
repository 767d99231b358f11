"""Audio in: bring audio onto the bus, enhance it, detect voice activity, record it."""
