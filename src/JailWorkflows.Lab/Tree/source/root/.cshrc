# $FreeBSD: src/etc/root/dot.cshrc,v 1.29 2000/10/23 03:38:36 jkh Exp $
alias h		history 25
alias j		jobs -l
alias la	ls -a
alias lf	ls -FA
alias ll	ls -lA
set path = (/sbin /bin /usr/sbin /usr/bin /usr/games /usr/local/sbin /usr/local/bin /usr/X11R6/bin $HOME/bin)
setenv	BLOCKSIZE	K
setenv	EDITOR	vi
setenv	PAGER	more
