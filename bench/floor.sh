# Sourced by the benchmarks: the signing floor, signatures per second that `openssl speed`
# makes on one core (the machine's own limit the figures are measured against).
#   signing_floor rsa2048|ecdsap256 CORE
signing_floor() {
  case "$1" in
    rsa2048) taskset -c "$2" openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {printf "%.0f", $(NF-1)}' ;;
    ecdsap256) taskset -c "$2" openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/nistp256/ {printf "%.0f", $(NF-1)}' ;;
  esac
}
