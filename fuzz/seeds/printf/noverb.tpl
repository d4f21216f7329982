{{ printf "%-5" }}
