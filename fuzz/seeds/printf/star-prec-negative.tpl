{{ printf "%.*d" -1 5 }}
