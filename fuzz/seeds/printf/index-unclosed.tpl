{{ printf "%[1d" 1 }}
