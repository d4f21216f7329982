{{ printf "%[0]d" 1 }}
