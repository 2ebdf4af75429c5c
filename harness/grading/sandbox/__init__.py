"""The sandbox machinery: where submitted code runs, and the bounded wire out of it.

    bubblewrap   sandboxes with cgroup limits, and the one process killer
    slot, zygote a sandbox that imports torch once and grades one submission after another
    namespaces   each submission's own namespaces and mounts inside a slot
    worker       what runs inside: load notebooks, call the functions, send raw outputs
    lockdown     autograd locked away in the process that runs a submitted backpropagation
    protocol     frames and payloads, every size bounded
    packing      what of a staged submission goes in
"""
