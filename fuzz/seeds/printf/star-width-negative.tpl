{{ printf "%*d|" -3 1 }}
