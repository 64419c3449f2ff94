"""The Ray engine (``engine="ray"``, ``pip install 'notus-data[ray]'``): see :mod:`.engine`; connecting to a
cluster is :mod:`.session`, what workers run is :mod:`.work`."""
