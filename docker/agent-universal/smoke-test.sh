# bosun/agent-universal's smoke test (build.sh runs it with `sh -c` as user 1000, no network, a
# read-only root filesystem and tmpfs /tmp and home, under runc and gVisor): every toolchain
# answers with its version, and each compiles and runs something tiny. Prints one line per tool.
# No `a && b` below: under `set -e`, only the last command of such a list stops the script.
set -eu
v() { printf '%-8s %s\n' "$1" "$(printf '%s\n' "$2" | head -n 1)"; }
is() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'" >&2; exit 1; }; }
is "$(id -u)" 1000
test -w "$HOME"
cd /tmp
v node "$(node --version)"
is "$(node -p 'process.versions.node.split(".")[0]')" 24
v npm "$(npm --version)"
v git "$(git --version)"
v socat "$(socat -V | sed -n 2p)"
v rg "$(rg --version)"
v curl "$(curl --version)"
printf '#include <stdio.h>\nint main(void) { puts("c ok"); return 0; }\n' >c.c
gcc -o c c.c
is "$(./c)" "c ok"
v gcc "$(gcc --version)"
python3 -m venv venv
is "$(venv/bin/python -c 'import sys; print(sys.prefix)')" /tmp/venv
v python3 "$(python3 --version) / $(venv/bin/pip --version)"
mkdir go
printf 'module smoke\n\ngo 1.19\n' >go/go.mod
printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("go ok") }\n' >go/main.go
is "$(cd go; go run .)" "go ok"
v go "$(go version)"
printf 'fn main() { println!("rust ok"); }\n' >r.rs
rustc -o r r.rs
is "$(./r)" "rust ok"
v rust "$(rustc --version) / $(cargo --version)"
printf 'class H { public static void main(String[] a) { System.out.println("java ok"); } }\n' >H.java
javac -d . H.java
is "$(java -cp . H)" "java ok"
test -x "$JAVA_HOME/bin/javac"
mvn -B -v >mvn.txt   # Maven has no plugins offline: its version only
v java "$(javac -version 2>&1) / $(sed 's/\x1b\[[0-9;]*m//g' mvn.txt)"
is "$(ruby -e 'puts "ruby ok"')" "ruby ok"
v ruby "$(ruby --version) / $(bundle --version)"
