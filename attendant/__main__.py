from attendant.cli import main

main()
