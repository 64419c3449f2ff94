from notus_data.cli import main

main(prog_name="notus-data")
