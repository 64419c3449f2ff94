"""``python -m notus_data.synthetic``: write synthetic rows (see :func:`notus_data.synthetic.main`)."""

from notus_data.synthetic import main

main()
