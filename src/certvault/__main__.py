from certvault.cli.main import main

main()
