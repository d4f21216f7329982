{{ printf "%*d" 1.5 1 }}
