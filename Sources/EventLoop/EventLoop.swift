// EventLoop: built in its own issue step; see ARCHITECTURE.md.
