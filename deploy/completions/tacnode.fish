# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tacnode_global_optspecs
    string join \n data-dir= config= v/verbose q/quiet json h/help V/version
end

function __fish_tacnode_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tacnode_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tacnode_using_subcommand
    set -l cmd (__fish_tacnode_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tacnode -n "__fish_tacnode_needs_command" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_needs_command" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_needs_command" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_needs_command" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_needs_command" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_needs_command" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_needs_command" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "init" -d 'Create the encrypted identity in the data directory'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "run" -d 'Run the daemon'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "id" -d 'Show this node\'s address (and its QR code)'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "contacts" -d 'Manage contacts'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "send" -d 'Send a text message to a contact (name), an address (key_…) or a group (@NAME)'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "inbox" -d 'Show received and sent messages'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "chat" -d 'Chat in the terminal: conversations with unread counts, messages with local times and delivery ticks, live updates (Esc quits)'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "peers" -d 'Show the peers this node knows: the routing table\'s contacts plus the peers connected now'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "send-file" -d 'Offer a file to a contact, with a progress bar until it arrived'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "files" -d 'Show file transfers, both ways, newest first: progress, state, and where a received file was saved'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "outbox" -d 'Show the messages waiting to go, and why each waits'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "status" -d 'Show the daemon\'s status'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "announce" -d 'Announce to every node of the network: an alert (TEXT), or with --service a service others list with `tacnode services`. At most 6 announcements an hour'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "services" -d 'List the services advertised to the network'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "group" -d 'Team channels: end-to-end encrypted groups (`send @NAME TEXT` writes to one)'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "admin" -d 'Administer a closed network (admin key, member certificates, revocations)'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "member" -d 'This node\'s membership of a closed network'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "export" -d 'Write the message history as JSON Lines'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "import" -d 'Restore a JSON Lines history idempotently'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "demo" -d 'Start a local network of nodes and show messages flowing, also to an offline node through mailboxes'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "completions" -d 'Print a shell completion script (the Debian package installs them; deploy/completions holds the generated files)'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "man" -d 'Print the manual page (roff; deploy/man/tacnode.1 is this output)'
complete -c tacnode -n "__fish_tacnode_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand init" -l passphrase-file -d 'Read the keystore passphrase from this file (first line)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand init" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand init" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand init" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand init" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand init" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand init" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand init" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -l passphrase-file -d 'Read the keystore passphrase from this file (first line)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -l listen -d 'UDP address to listen on (overrides node.listen)' -r
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -l node-type -d 'Server or client (overrides node.node_type)' -r -f -a "server\t''
client\t''"
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -l bootstrap -d 'Extra pre-shared peer, key_…@ip:port (repeatable; added to bootstrap.peers)' -r
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -l log-format -d 'Log format (overrides log.format)' -r -f -a "text\t''
json\t''"
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -l new-database -d 'Start with an empty database although this data dir had one (its contacts, sessions and history are then gone)'
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand run" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand id" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand id" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand id" -l qr -d 'Also print the address as a QR code'
complete -c tacnode -n "__fish_tacnode_using_subcommand id" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand id" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand id" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand id" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand id" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -f -a "add" -d 'Add a contact'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -f -a "list" -d 'List contacts'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -f -a "remove" -d 'Forget a contact: its name, its session and the device key pinned for it. Messages already exchanged stay in the history'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -f -a "verify" -d 'Show the safety number to compare out of band; --confirm marks the contact verified'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and not __fish_seen_subcommand_from add list remove verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from add" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from add" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from add" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from list" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from list" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from list" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from remove" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from remove" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from remove" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from verify" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from verify" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from verify" -l confirm -d 'Mark verified after comparing the numbers'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from verify" -l qr -d 'Also print the QR code of the safety number'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from verify" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a contact'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from help" -f -a "list" -d 'List contacts'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Forget a contact: its name, its session and the device key pinned for it. Messages already exchanged stay in the history'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Show the safety number to compare out of band; --confirm marks the contact verified'
complete -c tacnode -n "__fish_tacnode_using_subcommand contacts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand send" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand send" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand send" -l stdin -d 'Send each line of standard input as its own message, in order (empty lines are skipped; queued in groups of up to 1000, each group in one commit)'
complete -c tacnode -n "__fish_tacnode_using_subcommand send" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand send" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand send" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand send" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand send" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand inbox" -l limit -d 'Show at most this many of the latest messages (default 1000, at most 10000; `tacnode export` writes the whole history)' -r
complete -c tacnode -n "__fish_tacnode_using_subcommand inbox" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand inbox" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand inbox" -l follow -d 'Keep printing new messages as they arrive'
complete -c tacnode -n "__fish_tacnode_using_subcommand inbox" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand inbox" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand inbox" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand inbox" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand inbox" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand chat" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand chat" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand chat" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand chat" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand chat" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand chat" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand chat" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand peers" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand peers" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand peers" -l watch -d 'Redraw every second until Ctrl-C; when standard output is not a terminal, print a snapshot every second instead (with --json one object per line)'
complete -c tacnode -n "__fish_tacnode_using_subcommand peers" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand peers" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand peers" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand peers" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tacnode -n "__fish_tacnode_using_subcommand peers" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand send-file" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand send-file" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand send-file" -l no-wait -d 'Return once the transfer is recorded instead of showing its progress'
complete -c tacnode -n "__fish_tacnode_using_subcommand send-file" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand send-file" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand send-file" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand send-file" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tacnode -n "__fish_tacnode_using_subcommand send-file" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -l watch -d 'Progress bars for the transfers under way, until none is (or Ctrl-C)'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -f -a "cancel" -d 'Cancel a file transfer (its id, or enough of it to be unique): ours is served no more, theirs is fetched no more and its partial file goes'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and not __fish_seen_subcommand_from cancel help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and __fish_seen_subcommand_from cancel" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and __fish_seen_subcommand_from cancel" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and __fish_seen_subcommand_from cancel" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and __fish_seen_subcommand_from cancel" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and __fish_seen_subcommand_from cancel" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and __fish_seen_subcommand_from help" -f -a "cancel" -d 'Cancel a file transfer (its id, or enough of it to be unique): ours is served no more, theirs is fetched no more and its partial file goes'
complete -c tacnode -n "__fish_tacnode_using_subcommand files; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -f -a "cancel" -d 'Cancel a waiting message (its id, or enough of it to be unique)'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -f -a "retry" -d 'Try now instead of at the next retry: the recipient of ID, or all'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and not __fish_seen_subcommand_from cancel retry help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from cancel" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from cancel" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from cancel" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from cancel" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from cancel" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from retry" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from retry" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from retry" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from retry" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from retry" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from retry" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from retry" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from help" -f -a "cancel" -d 'Cancel a waiting message (its id, or enough of it to be unique)'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from help" -f -a "retry" -d 'Try now instead of at the next retry: the recipient of ID, or all'
complete -c tacnode -n "__fish_tacnode_using_subcommand outbox; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand status" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand status" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand status" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand status" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand status" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand status" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand status" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -l service -d 'Advertise a service by this name instead ("medic", "map tiles")' -r
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -l detail -d 'What to know about the service' -r
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -l hours -d 'How long the service is listed, hours (at most 24)' -r
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand announce" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand services" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand services" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand services" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand services" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand services" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand services" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand services" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -f -a "create" -d 'Create a group with this node as its admin'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -f -a "add" -d 'Add a contact to a group (admins only); it joins as soon as it has this node as a contact (invitations come from contacts only)'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -f -a "remove" -d 'Remove a member (admins only); it reads nothing sent afterwards'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -f -a "list" -d 'List the groups this node is in'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -f -a "members" -d 'Show a group\'s members'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and not __fish_seen_subcommand_from create add remove list members help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from create" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from create" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from create" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from add" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from add" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from add" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from remove" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from remove" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from remove" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from list" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from list" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from list" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from members" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from members" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from members" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from members" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from members" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from members" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from members" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a group with this node as its admin'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a contact to a group (admins only); it joins as soon as it has this node as a contact (invitations come from contacts only)'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a member (admins only); it reads nothing sent afterwards'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the groups this node is in'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "members" -d 'Show a group\'s members'
complete -c tacnode -n "__fish_tacnode_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -f -a "init" -d 'Create the network\'s admin key (a passphrase-protected keystore) and print the `[admission]` lines for the members\' config'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -f -a "issue" -d 'Issue a member certificate for a node\'s key_… address'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -f -a "revoke" -d 'Revoke members (or reinstate them): writes the admin\'s next signed revocation list, which replaces the previous one'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and not __fish_seen_subcommand_from init issue revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from init" -l admin-dir -d 'Where the admin key lives (default: <data-dir>/admin)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from init" -l passphrase-file -d 'Read the keystore passphrase from this file (first line)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from init" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from init" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from init" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from init" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from init" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -l role -d 'What the member may run as' -r -f -a "server\t''
client\t''"
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -l days -d 'Days the certificate is valid' -r
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -l name -d 'A name shown to operators' -r
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -l out -d 'The certificate file to write (must not exist)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -l admin-dir -d 'Where the admin key lives (default: <data-dir>/admin)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -l passphrase-file -d 'Read the keystore passphrase from this file (first line)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from issue" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -l out -d 'The revocation file to write (must not exist)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -l admin-dir -d 'Where the admin key lives (default: <data-dir>/admin)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -l passphrase-file -d 'Read the keystore passphrase from this file (first line)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -l reinstate -d 'Take them off the list instead'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "init" -d 'Create the network\'s admin key (a passphrase-protected keystore) and print the `[admission]` lines for the members\' config'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "issue" -d 'Issue a member certificate for a node\'s key_… address'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke members (or reinstate them): writes the admin\'s next signed revocation list, which replaces the previous one'
complete -c tacnode -n "__fish_tacnode_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -f -a "import" -d 'Install this node\'s member certificate (used from the next start)'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -f -a "revocations" -d 'Give the running daemon an admin\'s revocation list: applied at once and published, so every member enforces it within its revocation fetch interval'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and not __fish_seen_subcommand_from import revocations help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from import" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from import" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from import" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from import" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from revocations" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from revocations" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from revocations" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from revocations" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from revocations" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from revocations" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from revocations" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "import" -d 'Install this node\'s member certificate (used from the next start)'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "revocations" -d 'Give the running daemon an admin\'s revocation list: applied at once and published, so every member enforces it within its revocation fetch interval'
complete -c tacnode -n "__fish_tacnode_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand export" -l passphrase-file -d 'Read the keystore passphrase from this file (first line)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand export" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand export" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand export" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand export" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand export" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand export" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand export" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand import" -l passphrase-file -d 'Read the keystore passphrase from this file (first line)' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand import" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand import" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand import" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand import" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand import" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand import" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand import" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand demo" -l nodes -d 'Number of nodes' -r
complete -c tacnode -n "__fish_tacnode_using_subcommand demo" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand demo" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand demo" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand demo" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand demo" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand demo" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand demo" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand completions" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand completions" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand completions" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand completions" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand completions" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand completions" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand completions" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand man" -l data-dir -d 'Data directory (keystore, database, control socket). Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand man" -l config -d 'Configuration file (TOML). Default: <data-dir>/tacnode.toml if present' -r -F
complete -c tacnode -n "__fish_tacnode_using_subcommand man" -s v -l verbose -d 'More daemon log (`run`): -v debug, -vv trace (over log.level; RUST_LOG still wins)'
complete -c tacnode -n "__fish_tacnode_using_subcommand man" -s q -l quiet -d 'Less daemon log (`run`): -q warnings and errors, -qq errors only'
complete -c tacnode -n "__fish_tacnode_using_subcommand man" -l json -d 'Print what the daemon answered as JSON (one object, or one object per line for `inbox` and `peers --watch`), with the control protocol\'s field names, instead of text'
complete -c tacnode -n "__fish_tacnode_using_subcommand man" -s h -l help -d 'Print help'
complete -c tacnode -n "__fish_tacnode_using_subcommand man" -s V -l version -d 'Print version'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "init" -d 'Create the encrypted identity in the data directory'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "run" -d 'Run the daemon'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "id" -d 'Show this node\'s address (and its QR code)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "contacts" -d 'Manage contacts'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "send" -d 'Send a text message to a contact (name), an address (key_…) or a group (@NAME)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "inbox" -d 'Show received and sent messages'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "chat" -d 'Chat in the terminal: conversations with unread counts, messages with local times and delivery ticks, live updates (Esc quits)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "peers" -d 'Show the peers this node knows: the routing table\'s contacts plus the peers connected now'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "send-file" -d 'Offer a file to a contact, with a progress bar until it arrived'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "files" -d 'Show file transfers, both ways, newest first: progress, state, and where a received file was saved'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "outbox" -d 'Show the messages waiting to go, and why each waits'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "status" -d 'Show the daemon\'s status'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "announce" -d 'Announce to every node of the network: an alert (TEXT), or with --service a service others list with `tacnode services`. At most 6 announcements an hour'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "services" -d 'List the services advertised to the network'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "group" -d 'Team channels: end-to-end encrypted groups (`send @NAME TEXT` writes to one)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "admin" -d 'Administer a closed network (admin key, member certificates, revocations)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "member" -d 'This node\'s membership of a closed network'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "export" -d 'Write the message history as JSON Lines'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "import" -d 'Restore a JSON Lines history idempotently'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "demo" -d 'Start a local network of nodes and show messages flowing, also to an offline node through mailboxes'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "completions" -d 'Print a shell completion script (the Debian package installs them; deploy/completions holds the generated files)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "man" -d 'Print the manual page (roff; deploy/man/tacnode.1 is this output)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and not __fish_seen_subcommand_from init run id contacts send inbox chat peers send-file files outbox status announce services group admin member export import demo completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from contacts" -f -a "add" -d 'Add a contact'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from contacts" -f -a "list" -d 'List contacts'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from contacts" -f -a "remove" -d 'Forget a contact: its name, its session and the device key pinned for it. Messages already exchanged stay in the history'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from contacts" -f -a "verify" -d 'Show the safety number to compare out of band; --confirm marks the contact verified'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from files" -f -a "cancel" -d 'Cancel a file transfer (its id, or enough of it to be unique): ours is served no more, theirs is fetched no more and its partial file goes'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from outbox" -f -a "cancel" -d 'Cancel a waiting message (its id, or enough of it to be unique)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from outbox" -f -a "retry" -d 'Try now instead of at the next retry: the recipient of ID, or all'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "create" -d 'Create a group with this node as its admin'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "add" -d 'Add a contact to a group (admins only); it joins as soon as it has this node as a contact (invitations come from contacts only)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "remove" -d 'Remove a member (admins only); it reads nothing sent afterwards'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "list" -d 'List the groups this node is in'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "members" -d 'Show a group\'s members'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "init" -d 'Create the network\'s admin key (a passphrase-protected keystore) and print the `[admission]` lines for the members\' config'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "issue" -d 'Issue a member certificate for a node\'s key_… address'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "revoke" -d 'Revoke members (or reinstate them): writes the admin\'s next signed revocation list, which replaces the previous one'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "import" -d 'Install this node\'s member certificate (used from the next start)'
complete -c tacnode -n "__fish_tacnode_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "revocations" -d 'Give the running daemon an admin\'s revocation list: applied at once and published, so every member enforces it within its revocation fetch interval'
