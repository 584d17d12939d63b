"""Pack sensors: the child process that runs one sensor (wrapper.py, pack-virtualenv side) and its
supervision by the sensor container (process.py, appliance side)."""
