#!/usr/bin/env bash
# `make run`: creates the demo data directory once (the archive, the system
# administrator and the security officer custosctl init makes, and one demo
# user per other role), then runs the server in the foreground (Ctrl-C stops
# it cleanly).
#
# The configuration keeps its defaults: the roles in auth.second_factor_roles
# (every role but staff and auditor) enrol a TOTP second factor at their first
# sign-in, and accounts made today may not approve a destruction or a
# shortened retention for auth.approver_cooling_days (30) days.
#
# The demo credentials are written once to DIR/demo-credentials.txt (0600)
# and printed when the directory is created; later runs only point to the
# file. Demo only: anyone who can read that file can sign in.
set -euo pipefail
build_dir=${1:-build}
data=${2:-demo-data}
listen=${3:-127.0.0.1:8443}
bin="$build_dir/bin"
credentials="$data/demo-credentials.txt"

# username role department
demo_users=(
  "secaudit security_auditor administration"
  "archivist archivist sales"
  "staff staff sales"
  "approver approver sales"
  "legal legal legal"
  "auditor auditor audit"
)

credential_line() {  # username role department password note
  printf '%-10s %-17s %-15s %s%s\n' "$1" "$2" "$3" "$4" "${5:+  ($5)}"
}

# Creates the data directory and the demo users; writes and prints the
# credentials. Runs in a subshell with umask 077 so every file it creates is
# private to the user.
create_demo() (
  umask 077
  local init_out admin_password officer_password name role department password
  local password_file="" sheet=""
  trap 'status=$?
    rm -f ${password_file:+"$password_file"} ${sheet:+"$sheet"}
    if ((status != 0)); then echo "run-demo: setting up $data failed; remove $data and run again" >&2; fi' EXIT
  init_out=$("$bin/custosctl" init --data "$data" --listen "$listen")
  admin_password=$(sed -n 's/^admin password: //p' <<<"$init_out")
  officer_password=$(sed -n 's/^security officer password: //p' <<<"$init_out")
  if [[ -z "$admin_password" || -z "$officer_password" ]]; then
    echo "run-demo: custosctl init printed no admin or security officer password" >&2
    exit 1
  fi
  # What init said, except the passwords (they go to the sheet below) and how
  # to start the server (this script does that).
  grep -v -e '^admin password: ' -e '^security officer password: ' -e 'shown only this once' \
    -e '^Start the server with' <<<"$init_out"

  password_file=$(mktemp)
  sheet=$(mktemp)
  {
    echo "# Custos demo credentials for https://$listen/ (created $(date -u +%Y-%m-%dT%H:%M:%SZ))."
    echo "# Demo only: anyone who can read this file can sign in."
    credential_line "# username" "role" "department" "password"
    credential_line admin sysadmin administration "$admin_password" \
      "must be changed at first sign-in"
    credential_line security security_officer administration "$officer_password" \
      "must be changed at first sign-in"
  } >"$sheet"
  for entry in "${demo_users[@]}"; do
    read -r name role department <<<"$entry"
    password=$(openssl rand -base64 15)
    printf '%s\n' "$password" >"$password_file"
    "$bin/custosctl" user add "$name" --role "$role" --department "$department" \
      --password-file "$password_file" --no-force-change --data "$data" >/dev/null
    credential_line "$name" "$role" "$department" "$password" >>"$sheet"
  done
  : >"$password_file"
  mv "$sheet" "$credentials"
  sheet=""
  chmod 600 "$credentials"
  echo
  echo "Demo credentials (kept in $credentials; later runs only point to it):"
  cat "$credentials"
  demo_notes
)

# What a demo user meets at first sign-in (printed at every run).
demo_notes() {
  echo
  echo "Notes on the demo accounts (docs/security.md, Three administrative roles):"
  echo "  - admin, security, secaudit, archivist, approver and legal need a second factor:"
  echo "    their first sign-in only enrols TOTP (scan the QR code with an authenticator"
  echo "    app, type a code, keep the ten recovery codes); later sign-ins ask for a code."
  echo "    staff and auditor sign in with the password alone."
  echo "  - admin (sysadmin) manages accounts and departments, security (security_officer)"
  echo "    issues set-up codes and proposes role grants, secaudit (security_auditor)"
  echo "    reads the whole log; none of them sees records or approves anything."
  echo "  - Every account was made today: approver and legal may not approve a destruction"
  echo "    or a shortened retention for 30 days (auth.approver_cooling_days in"
  echo "    $data/custos.conf; set it to 0 and restart to try those steps at once)."
}

if [[ ! -d "$data" ]]; then
  create_demo
elif [[ -f "$credentials" ]]; then
  echo "demo credentials: see $credentials"
  demo_notes
else
  echo "demo credentials: $data was not created by this script; use the accounts you made"
fi

echo
echo "Custos is starting on https://$listen/ (self-signed certificate: curl -k, or trust $data/tls/cert.pem)"
echo "  web UI:  https://$listen/ in a browser (accept the self-signed certificate once)"
echo "  health:  curl --cacert $data/tls/cert.pem https://$listen/healthz"
echo "  stop:    Ctrl-C"
echo
exec "$bin/custosd" --data "$data" --listen "$listen"
