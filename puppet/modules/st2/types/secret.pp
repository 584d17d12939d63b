# @summary A password given to the module: 8 characters or more, none of them blank, quote or backslash.
#
# The limits keep it one token everywhere it goes: an st2.conf value, redis.conf's `requirepass`
# line, redis-cli's input, and the Erlang string the rabbitmq_user type checks it with.
type St2::Secret = Sensitive[Pattern[/\A[^\s"'\\]{8,}\z/]]
