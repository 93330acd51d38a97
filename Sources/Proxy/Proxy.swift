// Proxy: client and upstream connections, pools, phases (in progress; see wip/ in the working tree).
