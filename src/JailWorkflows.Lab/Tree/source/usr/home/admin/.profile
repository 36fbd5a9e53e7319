PATH=/bin:/usr/bin:/usr/local/bin:$HOME/bin; export PATH
